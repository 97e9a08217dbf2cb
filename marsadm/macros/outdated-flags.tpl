/* F: fetch behind, R: replay behind. */\
%if{%not{%fetch-reached{}}}{F}%if{%not{%replay-reached{}}}{R}\
