%if{%is-primary{}}{%{host}}{%if{%actual-primary{}}{%actual-primary{}}{-}}\
