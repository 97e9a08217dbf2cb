/* What the LocalDevice line says of the device. */\
%if{%device-opened{}}{\
Opened, \
%if{%known-device-mounted{}}{%known-device-mountpoint{}\
%if{%{verbose}}{ %known-device-fstype{} %known-device-mountflags{}}, }\
openers: %device-opened{}\
}{Closed}\
