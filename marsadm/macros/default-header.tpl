/* Before all resources of `view all`. */\
%if{%global-sync-limit-value{}}{\
HINT: at most %global-sync-limit-value{} full sync(s) run at once here (/proc/sys/mars/sync_limit)\n}\
