"""Device profiles (devices/*.toml -> DeviceProfile), their price rules, HTTP settings and endpoint overrides."""
