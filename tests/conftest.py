pytest_plugins = ["flowagents.testing.pytest_plugin"]
