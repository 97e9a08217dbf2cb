/* What the LocalDevice line says of the device. */\
%if{%device-opened{}}{\
Opened, \
%if{%known-device-mounted{}}{%known-device-mountpoint{}\
%if{%{verbose}}{ %known-device-fstype{} %known-device-mountflags{}}, }\
%device-ops-rate{} IOPS\
%if{%device-nrflying{}}{, %device-nrflying{} Flying\
%if{%>{%device-completion-age{}}{%{window}}}{, HANGING age: %human-seconds{%device-completion-age{}}}}\
}{Closed}\
