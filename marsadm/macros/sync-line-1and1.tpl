%sync-line{}\
