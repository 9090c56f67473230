import Testing

@testable import Tutoring

/// What a child might type that identifies them is replaced; what lessons are full of — numbers,
/// fractions, decimals, years, dates, ratios, big numbers — is left alone.
@Suite struct PersonalDataTests {
  static let redactor = PersonalDataRedactor(redactNames: true)

  @Test(arguments: [
    ("my email is sam.lee+school@example.co.uk can u check", "my email is [email] can u check"),
    ("email me at ana_b@mail.com", "email me at [email]"),
    ("its jo dot bloggs at gmail dot com", "its [email]"),
    ("call my mum on 07700 900123 pls", "call my mum on [phone] pls"),
    ("my number is +44 20 7946 0958", "my number is [phone]"),
    ("text me 555-123-4567", "text me [phone]"),
    ("phone (555) 123 4567 after school", "phone [phone] after school"),
    ("my dad's phone is 5551234567", "my dad's phone is [phone]"),
    ("ring 020 7946 0958!", "ring [phone]!"),
    ("i live at 42 Oak Tree Road and i'm bored", "i live at [address] and i'm bored"),
    ("come to 7b Mill Lane", "come to [address]"),
    ("I live on flat 3, 12 high st", "I live on [address], [address]"),
    ("my postcode is SW1A 1AA", "my postcode is [address]"),
    ("hi my name is Maya Patel and I need help", "hi my name is [name] and I need help"),
    ("call me Tom", "call me [name]"),
  ])
  func personalDataIsReplaced(text: String, expected: String) {
    #expect(Self.redactor.redact(text).text == expected)
  }

  @Test(arguments: [
    "what is 3/4 as a decimal? is it 0.75",
    "pi is 3.14159265 right",
    "the war was 1914-1918",
    "is 1,000,000 bigger than 999 999",
    "what's 12 345 678 divided by 2",
    "split 35 quid 2 to 5",
    "my test is on 02.12.2026",
    "the ratio is 3:4:5 and 10:30 is the time",
    "multiply 123456 by 7",
    "is 2^10 = 1024",
    "call the function twice",
    "my name is a secret lol",
    "my dad's phone number is a fraction question?",
    "it's in chapter 12, page 345",
    "x = 4.5 and y = -2.25",
    "look at the dot com bubble",
    "where is the @ key",
  ])
  func lookAlikesAreLeftAlone(text: String) {
    let (redacted, found) = Self.redactor.redact(text)
    #expect(redacted == text && found.isEmpty, "\(redacted)")
  }

  @Test func namesOnlyWhenConfiguredAndKindsAreReported() {
    let text = "my name is Ali, email ali@x.org, phone 07700 900123"
    let (plain, found) = PersonalDataRedactor().redact(text)
    #expect(plain == "my name is Ali, email [email], phone [phone]")
    #expect(found == [.email, .phone])
    #expect(Self.redactor.redact(text).found == [.email, .phone, .name])
  }
}
