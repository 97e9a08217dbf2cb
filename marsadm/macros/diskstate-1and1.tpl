%if{%not{%is-attach{}}}{Detached}{\
%if{%not{%is-consistent{}}}{Inconsistent}{\
%if{%work-reached{}}{Uptodate}{Outdated[%outdated-flags-1and1{}]}}}\
