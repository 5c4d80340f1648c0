"""Problems raised in GPOs: their lifecycle, visibility, comments and timeline."""
