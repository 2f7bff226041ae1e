import DecnetCLI

await DecnetCommand.runMain()
