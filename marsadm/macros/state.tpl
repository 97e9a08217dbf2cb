/* The original left this to the operator; here: both state words. */\
%diskstate{} %replstate{}\
