/* The LocalDevice line, where the device is up. */\
%if{%device-present{}}{  LocalDevice %get-device{} [%device-stats{}]\n}\
