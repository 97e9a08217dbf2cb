/* The progress of fetch and replay: = replayed, : fetched, . still to fetch. */\
%let{h}{%human-numbers{}{ }{ }{%replay-pos{}}{%fetch-size{}}}\
%sprintf{     replaying: %s  %.2f%%  (%d/%d)%s  logs: [%s]\n}\
{%progress{20}{%replay-pos{}}{%fetch-pos{}}{%fetch-size{}}}{%work-percent{}}\
{%{h}{ }{0}}{%{h}{ }{1}}{%{h}{ }{2}}\
{%replay-lognr{}%if{%>{%fetch-lognr{}}{%replay-lognr{}}}{::%fetch-lognr{}}%if{%>{%work-lognr{}}{%fetch-lognr{}}}{..%work-lognr{}}}\
%fetch-line{}%replay-line{}\
