import Foundation

// The executable parses arguments and calls into the stage modules; nothing else.
exit(Commands.main(Array(CommandLine.arguments.dropFirst())))
