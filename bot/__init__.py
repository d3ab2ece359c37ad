"""Code Interpreter for Slack: Microsoft Foundry's Code Interpreter in team chat."""
