/* The resource in the `--------- resource` line of `view all`. */\
%{res} %human-numbers{}{ }{ }{%resource-size{}} [%count-resource-peers{}/%count-configured-peers{}]\
