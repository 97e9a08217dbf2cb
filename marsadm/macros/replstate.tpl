/* The replication state word. */\
%if{%not{%is-module-loaded{}}}{ModuleNotLoaded}{\
%if{%not{%is-alive{%{host}}}}{UnResponsive}{\
%if{%not{%get-disk{}}}{NotJoined}{\
%if{%not{%todo-attach{}}}{NotStarted}{\
%if{%todo-primary{}}{\
%if{%is-emergency{}}{EmergencyMode}{%if{%is-primary{}}{Replicating}{NotYetPrimary}}}{\
%if{%and{%sync-rest{}}{%not{%todo-sync{}}}}{PausedSync}{\
%if{%eq{%primitive-replstate{}}{SyncQueued}}{SyncQueued}{\
%if{%is-sync{}}{Syncing}{\
%if{%not{%todo-fetch{}}}{PausedFetch}{\
%if{%not{%todo-replay{}}}{PausedReplay}{\
%if{%not{%get-primary{}}}{NoPrimaryDesignated}{\
%if{%not{%is-alive{}}}{PrimaryUnreachable}{\
%if{%is-orphan{}}{Orphan}{Replaying}}}}}}}}}}}}}\
