/* Six letters: Disk and device, Consistent, Attached, Sync, Fetch, Replay. */\
/* Upper case: so and reached; lower case: wanted, not there yet; -: neither. */\
%if{%disk-present{}}{%if{%device-present{}}{D}{d}}{-}\
%if{%disk-present{}}{%if{%is-consistent{}}{C}{c}}{-}\
%if{%and{%is-attach{}}{%todo-attach{}}}{A}{%if{%or{%is-attach{}}{%todo-attach{}}}{a}{-}}\
%if{%sync-reached{}}{S}{%if{%todo-sync{}}{s}{-}}\
%if{%fetch-reached{}}{F}{%if{%todo-fetch{}}{f}{-}}\
%if{%replay-reached{}}{R}{%if{%todo-replay{}}{r}{-}}\
