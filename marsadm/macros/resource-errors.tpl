/* The errors and warnings of every member (infos with -v -v). */\
%if{%the-err-count{}}{ERRORS   LNK  (%the-err-count{}):\n%the-pretty-err-msg{}}\
%if{%the-wrn-count{}}{WARNINGS LNK  (%the-wrn-count{}):\n%the-pretty-wrn-msg{}}\
%if{%and{%>={%{verbose}}{2}}{%the-inf-count{}}}{INFOS    LNK  (%the-inf-count{}):\n%the-pretty-inf-msg{}}\
