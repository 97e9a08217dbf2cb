/* This host's messages about the cluster, and its Lamport clock ahead of real time. */\
%if{%the-global-msg{}}{\
++++++++++++ Global / Communication Status ++++++++++++\n%the-pretty-global-msg{}}\
%let{slip}{%-{%time{}}{%real-time{}}}\
%if{%>{%{slip}}{%{window}}}{++++++++++++ Lamport time slip: %human-seconds{%{slip}} ++++++++++++\n}\
