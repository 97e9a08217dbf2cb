/* The progress of the full sync. */\
%let{h}{%human-numbers{}{ }{ }{%sync-pos{}}{%sync-size{}}}\
%let{r}{%human-numbers{}{ }{ }{%sync-rate{}}}\
%sprintf{     syncing: %s  %.2f%%  (%d/%d)%s  rate: %.2f %s/sec  remaining: %s hrs\n}\
{%progress{20}{%sync-pos{}}{0}{%sync-size{}}}{%sync-percent{}}\
{%{h}{ }{0}}{%{h}{ }{1}}{%{h}{ }{2}}{%{r}{ }{0}}{%{r}{ }{1}}{%human-seconds{%sync-remain{}}}\
%sync-line{}\
