/* DRBD's word for the disk state: the disk state word. */\
%diskstate{}\
