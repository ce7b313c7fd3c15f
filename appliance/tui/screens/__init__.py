"""The app's screens, one per module; ``base.AppScreen`` gives each the header, navigation, footer and the one way
to call the service layer (errors become notifications)."""
