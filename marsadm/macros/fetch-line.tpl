\       > fetch: %human-numbers{}{ }{ }{%fetch-rest{}}\
%if{%and{%fetch-rest{}}{%>={%fetch-age{}}{%{window}}}}{ age: %human-seconds{%fetch-age{}}}\
%if{%>={%fetch-lag{}}{%{window}}}{ lag: %human-seconds{%fetch-lag{}}} \
rate: %human-numbers{}{ }{ }{%fetch-rate{}}/s remaining: %human-seconds{%fetch-remain{}}\n\
%if{%and{%fetch-rest{}}{%is-module-loaded{}}{%>={%fetch-age{}}{%{stuck_seconds}}}}{\
%warn{replay of %{res} appears to be stuck for ~%human-seconds{%fetch-age{}}}}\
