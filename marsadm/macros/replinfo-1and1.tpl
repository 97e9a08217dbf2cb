%replinfo{}\
