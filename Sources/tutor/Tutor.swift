@main struct Tmp { static func main() {} }
