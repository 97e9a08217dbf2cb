/* How long the designated primary has not been heard from, once that is --window or more. */\
%if{%>={%alive-age{}}{%{window}}}{%human-seconds{%alive-age{}}}\
