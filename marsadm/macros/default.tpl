/* `marsadm view RES`: the LocalDevice line, the resource line, hints, progress, and the */\
/* errors and warnings of every member; then this implementation's member lines. */\
%if{%is-member{}}{\
%device-info{}\
\  %{res} [%count-resource-peers{}/%count-configured-peers{}] \
%diskstate{} %replstate{} %flags{} %role{} %primarynode{} %commstate{}\n\
%if{%>{%-{%disk-size{}}{%resource-size{}}}{%{threshold}}}{\
\     Hint: you are wasting %human-numbers{}{ }{ }{%-{%disk-size{}}{%resource-size{}}} on disk %get-disk{}\n}\
%if{%>{%resource-possible-size{}}{%resource-size{}}}{\
\     Hint: marsadm resize would increase resource %{res} by \
%human-numbers{}{ }{ }{%-{%resource-possible-size{}}{%resource-size{}}}\n}\
%if{%and{%not{%is-primary{}}}{%is-attach{}}}{\
%if{%not{%sync-reached{}}}{%syncinfo{}}\
%if{%not{%work-reached{}}}{%replinfo{}}}\
%call{resource-errors}\
%split-brain-lines{}%member-lines{}\
}{%device-info{}}\
