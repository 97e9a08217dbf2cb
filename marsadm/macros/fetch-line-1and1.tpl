%fetch-line{}\
