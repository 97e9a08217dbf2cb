%resource-errors{}\
