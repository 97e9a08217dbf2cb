/* A line in the manner of DRBD's status. */\
%{res} role:%role{} disk:%diskstate{} replication:%replstate{} connection:%cstate{}\
