/* The role word (view --json's role, where the two differ: docu/view-macros.md). */\
%if{%disk-present{}}{\
%if{%todo-primary{}}{\
%if{%is-primary{}}{%if{%>{%nr-primary{}}{1}}{Forced}Primary}{NotYetPrimary}}{\
%if{%is-primary{}}{RemainsPrimary}{Secondary}}}{None}\
