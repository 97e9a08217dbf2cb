\       > replay: %human-numbers{}{ }{ }{%replay-rest{}}\
%if{%and{%replay-rest{}}{%>={%replay-age{}}{%{window}}}}{ age: %human-seconds{%replay-age{}}} \
rate: %human-numbers{}{ }{ }{%replay-rate{}}/s remaining: %human-seconds{%replay-remain{}}\n\
