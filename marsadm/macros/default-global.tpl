/* After all resources of `view all`. */\
%call{comminfo}\
