"""Device profiles (devices/*.toml -> DeviceProfile): price rules, HTTP settings, endpoint overrides."""
