/* DRBD's words for the connection: Connected, WFConnection, StandAlone. */\
%if{%is-primary{}}{%if{%nr-fetch{}}{Connected}{WFConnection}}{\
%if{%is-fetch{}}{Connected}{%if{%todo-fetch{}}{WFConnection}{StandAlone}}}\
