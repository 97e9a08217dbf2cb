%syncinfo{}\
