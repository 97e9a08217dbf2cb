/* The role this host is designated for. */\
%if{%todo-primary{}}{Primary}{%if{%todo-attach{}}{Secondary}{None}}\
