%outdated-flags{}\
