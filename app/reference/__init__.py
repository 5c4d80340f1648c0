"""Reference data: communes, organisations, problem categories, action kinds."""
