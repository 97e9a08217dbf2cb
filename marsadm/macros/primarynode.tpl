%if{%todo-primary{}}{%{host}}{%get-primary{}}\
