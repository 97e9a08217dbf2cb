%replay-line{}\
