%if{%is-primary{}}{Primary}{Secondary}\
