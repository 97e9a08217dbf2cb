%let{h}{%human-numbers{}{ }{ }{%sync-pos{}}{%sync-size{}}}\
%let{r}{%human-numbers{}{ }{ }{%sync-rate{}}}\
\       > sync: %{h}{ }{0}/%{h}{ }{1} %{h}{ }{2} \
rate: %{r}/sec  remaining: %human-seconds{%sync-remain{}} hrs\n\
