"""GPOs: the standing partnership groups, their communes, members and facilitators."""
