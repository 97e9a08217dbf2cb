/* The compact layout of the original's 1&1 variant. */\
%if{%{res}}{\
\  %{res} %diskstate-1and1{} %replstate-1and1{} %flags-1and1{} %role-1and1{} %primarynode-1and1{}\n\
%if{%is-attach{}}{\
%if{%not{%sync-reached{}}}{%syncinfo-1and1{}}\
%if{%not{%work-threshold-reached{}}}{%replinfo-1and1{}}}\
%resource-errors-1and1{}\
}{%the-pretty-global-msg{}}\
