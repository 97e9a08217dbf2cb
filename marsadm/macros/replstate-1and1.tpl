%if{%not{%get-disk{}}}{NotJoined}{\
%if{%is-primary{}}{Replicating}{\
%if{%and{%sync-rest{}}{%not{%todo-sync{}}}}{PausedSync}{\
%if{%sync-rest{}}{Syncing}{\
%if{%not{%todo-replay{}}}{PausedReplay}{\
%if{%not{%is-alive{}}}{PrimaryUnreachable}{Replaying}}}}}}\
