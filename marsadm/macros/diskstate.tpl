/* The disk state word. Behind the primary (OutDated) means here what view --json says: */\
/* not following within 10 s (docu/replication.md). */\
%if{%disk-error{}}{DISK_ERROR=%disk-error{}%errno-text{%disk-error{}} }\
%if{%not{%get-disk{}}}{NotJoined}{\
%if{%not{%disk-present{}}}{NotPresent}{\
%if{%not{%todo-attach{}}}{%if{%is-attach{}}{Detaching}{Detached}}{\
%if{%<{%replay-code{}}{0}}{DefectiveLog[%errno-text{%replay-code{}}]}{\
%if{%is-orphan{}}{Orphan}{\
%if{%not{%is-attach{}}}{NoAttach}{\
%if{%not{%is-consistent{}}}{\
%if{%todo-primary{}}{%if{%is-primary{}}{WriteBack}{Recovery}[%human-numbers{}{ }{ }{%writeback-rest{}}]}{InConsistent}}{\
%if{%ne{%primitive-diskstate{}}{UpToDate}}{\
%if{%todo-primary{}}{%if{%is-primary{}}{WriteBack}{Recovery}[%human-numbers{}{ }{ }{%writeback-rest{}}]}{OutDated[%outdated-flags{}]}}{\
%if{%is-emergency{}}{EmergencyMode}{UpToDate}}}}}}}}}\
