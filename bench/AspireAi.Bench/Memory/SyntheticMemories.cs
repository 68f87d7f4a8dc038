using AspireAi.Core.Memory;

namespace AspireAi.Bench.Memory;

/// <summary>
/// Deterministic, varied memory texts in the style extraction writes ("Works at Globex as a data engineer", "Visited
/// Lisbon in May 2023"), and questions a user would ask about them. Twenty-odd templates over a few hundred names,
/// places and things give millions of distinct facts, so a 100,000-memory scope has no duplicate.
/// </summary>
internal sealed class SyntheticMemories(int seed)
{
    private static readonly string[] Companies =
    [
        "Acme Corp", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay Industries", "Stark Industries", "Wayne Enterprises", "Wonka",
        "Cyberdyne", "Soylent", "Tyrell", "Aperture", "Black Mesa", "Monarch", "Oscorp", "Pied Piper", "Massive Dynamic", "Dunder Mifflin",
        "Prestige Worldwide", "Gringotts", "Nakatomi", "Sterling Cooper", "Bluth Company", "Los Pollos Hermanos", "Krusty Krab", "Planet Express",
        "Virtucon", "Initrode", "Contoso", "Fabrikam", "Northwind", "Tailspin Toys", "Litware", "Adventure Works", "Wingtip Toys", "Proseware",
        "Blue Yonder Airlines", "Coho Winery", "Lucerne Publishing", "Margie's Travel", "Trey Research", "Woodgrove Bank", "Alpine Ski House",
    ];

    private static readonly string[] Technologies =
    [
        "Python", "TypeScript", "Rust", "Go", "Java", "Kotlin", "Swift", "PostgreSQL", "Redis", "Kafka", "Kubernetes", "Docker", "Terraform",
        "React", "Vue", "Svelte", "Blazor", "Stripe", "PayPal", "Figma", "Jira", "Slack", "Elasticsearch", "RabbitMQ", "GraphQL", "gRPC",
        "Snowflake", "BigQuery", "Airflow", "dbt", "Spark", "Pandas", "PyTorch", "TensorFlow", "Neovim", "Emacs", "Linux", "FreeBSD",
        "Ansible", "Grafana", "Prometheus", "OpenTelemetry", "Datadog", "Sentry", "Vercel", "Netlify", "Heroku", "Azure", "AWS", "GCP",
    ];

    private static readonly string[] Cities =
    [
        "Lisbon", "Porto", "Berlin", "Munich", "Paris", "Lyon", "Madrid", "Barcelona", "Rome", "Milan", "Vienna", "Prague", "Warsaw", "Krakow",
        "Oslo", "Bergen", "Stockholm", "Copenhagen", "Helsinki", "Dublin", "Cork", "London", "Manchester", "Edinburgh", "Amsterdam",
        "Rotterdam", "Brussels", "Zurich", "Geneva", "Athens", "Istanbul", "Cairo", "Nairobi", "Lagos", "Cape Town", "Tokyo", "Osaka",
        "Kyoto", "Seoul", "Taipei", "Singapore", "Bangkok", "Hanoi", "Sydney", "Melbourne", "Auckland", "Toronto", "Montreal", "Vancouver",
        "Seattle", "Portland", "Denver", "Austin", "Chicago", "Boston", "New York", "Miami", "Mexico City", "Bogota", "Lima", "Santiago",
        "Buenos Aires", "Sao Paulo", "Reykjavik", "Tallinn", "Riga", "Vilnius", "Budapest", "Bucharest", "Sofia", "Zagreb", "Ljubljana",
    ];

    private static readonly string[] People =
    [
        "Anna", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kira", "Liam", "Maya", "Noah", "Olga", "Pedro",
        "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wes", "Xenia", "Yusuf", "Zoe", "Amir", "Bea", "Carlos", "Dana", "Emil", "Fatima",
        "Gustav", "Hana", "Ivan", "Julia", "Kenji", "Lea", "Marco", "Nina", "Oscar", "Priya", "Rafael", "Sofia", "Tomas", "Uma", "Viktor",
    ];

    private static readonly string[] Roles =
    [
        "platform engineer", "data engineer", "product manager", "designer", "site reliability engineer", "security engineer", "data scientist",
        "backend developer", "frontend developer", "engineering manager", "technical writer", "QA engineer", "solutions architect", "analyst",
    ];

    private static readonly string[] Purposes =
    [
        "payments", "billing", "analytics", "logging", "monitoring", "search", "caching", "messaging", "deployments", "infrastructure",
        "machine learning", "dashboards", "authentication", "feature flags", "data pipelines", "code review", "incident response", "testing",
    ];

    private static readonly string[] Topics =
    [
        "distributed systems", "typography", "gardening", "chess", "sourdough baking", "astronomy", "climbing", "jazz history", "woodworking",
        "urban planning", "birdwatching", "photography", "marathon training", "Roman history", "quantum computing", "origami", "beekeeping",
        "film noir", "sailing", "meditation", "cryptography", "fermentation", "mountaineering", "calligraphy", "linguistics", "pottery",
    ];

    private static readonly string[] Foods = ["peanuts", "shellfish", "gluten", "lactose", "eggs", "soy", "sesame", "kiwi", "strawberries", "mustard"];
    private static readonly string[] Pets = ["dog", "cat", "parrot", "rabbit", "hamster", "tortoise", "ferret", "goldfish", "iguana", "hedgehog"];
    private static readonly string[] Sports = ["tennis", "football", "basketball", "volleyball", "badminton", "squash", "rugby", "cricket", "golf", "padel"];
    private static readonly string[] Instruments = ["piano", "cello", "violin", "guitar", "drums", "flute", "saxophone", "trumpet", "harp", "bassoon"];
    private static readonly string[] Days = ["Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays"];
    private static readonly string[] Months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
    private static readonly string[] Formats = ["bullet points", "short paragraphs", "tables", "numbered steps", "plain text", "Markdown headings"];
    private static readonly string[] Languages = ["English", "French", "German", "Spanish", "Portuguese", "Italian", "Dutch", "Japanese", "Korean", "Polish"];

    private readonly Random _random = new(seed);

    private string Pick(string[] values) => values[_random.Next(values.Length)];

    private int Year() => 2015 + _random.Next(11);

    /// <summary>One fact with its type; entities are found the way the offline extractor finds them.</summary>
    public (string Text, MemoryType Type) Next()
    {
        return _random.Next(24) switch
        {
            0 => ($"Works at {Pick(Companies)} as a {Pick(Roles)}", MemoryType.Semantic),
            1 => ($"Uses {Pick(Technologies)} for {Pick(Purposes)}", MemoryType.Semantic),
            2 => ($"Visited {Pick(Cities)} in {Pick(Months)} {Year()}", MemoryType.Episodic),
            3 => ($"Met {Pick(People)} at a {Pick(Topics)} meetup in {Pick(Cities)}", MemoryType.Episodic),
            4 => ($"Has a {Pick(Pets)} named {Pick(People)} from {Pick(Cities)}", MemoryType.Semantic),
            5 => ($"Reads books about {Pick(Topics)} recommended by {Pick(People)}", MemoryType.Semantic),
            6 => ($"Plays {Pick(Sports)} with {Pick(People)} on {Pick(Days)}", MemoryType.Semantic),
            7 => ($"Is allergic to {Pick(Foods)} and avoids {Pick(Foods)}", MemoryType.Semantic),
            8 => ($"Always answer in {Pick(Formats)} when explaining {Pick(Topics)}", MemoryType.Procedural),
            9 => ($"Prefers {Pick(Technologies)} over {Pick(Technologies)} for {Pick(Purposes)}", MemoryType.Semantic),
            10 => ($"Migrated {Pick(Purposes)} from {Pick(Technologies)} to {Pick(Technologies)} in {Pick(Months)} {Year()}", MemoryType.Episodic),
            11 => ($"Is learning {Pick(Languages)} to talk with {Pick(People)} in {Pick(Cities)}", MemoryType.Semantic),
            12 => ($"Plays the {Pick(Instruments)} in a {Pick(Topics)} club in {Pick(Cities)}", MemoryType.Semantic),
            13 => ($"Works with {Pick(People)} on the {Pick(Purposes)} project at {Pick(Companies)}", MemoryType.Semantic),
            14 => ($"Gave a talk about {Pick(Technologies)} {Pick(Purposes)} in {Pick(Cities)} in {Year()}", MemoryType.Episodic),
            15 => ($"Never use {Pick(Technologies)} in examples about {Pick(Purposes)}", MemoryType.Procedural),
            16 => ($"Sister {Pick(People)} lives in {Pick(Cities)} and works at {Pick(Companies)}", MemoryType.Semantic),
            17 => ($"Bought a bike from {Pick(Companies)} for rides around {Pick(Cities)} on {Pick(Days)}", MemoryType.Episodic),
            18 => ($"Manager {Pick(People)} asks for {Pick(Purposes)} reports on {Pick(Days)}", MemoryType.Semantic),
            19 => ($"Favorite {Pick(Topics)} podcast is hosted by {Pick(People)} from {Pick(Cities)}", MemoryType.Semantic),
            20 => ($"Runs {Pick(Technologies)} on a home server for {Pick(Purposes)} and {Pick(Purposes)}", MemoryType.Semantic),
            21 => ($"Flew to {Pick(Cities)} with {Pick(People)} for a {Pick(Topics)} course in {Pick(Months)}", MemoryType.Episodic),
            22 => ($"Keeps notes about {Pick(Topics)} and {Pick(Topics)} in {Pick(Technologies)}", MemoryType.Semantic),
            _ => ($"Volunteers teaching {Pick(Topics)} at a school in {Pick(Cities)} on {Pick(Days)}", MemoryType.Semantic),
        };
    }

    /// <summary>A question about the kind of things the facts say.</summary>
    public string Query() => _random.Next(12) switch
    {
        0 => "Where do I work and what is my role?",
        1 => $"What do I use for {Pick(Purposes)}?",
        2 => $"When did I visit {Pick(Cities)}?",
        3 => $"Who did I meet at the {Pick(Topics)} meetup?",
        4 => "What is my pet called?",
        5 => $"Recommend a book about {Pick(Topics)}",
        6 => $"Who do I play {Pick(Sports)} with?",
        7 => "Which foods am I allergic to?",
        8 => $"Explain {Pick(Topics)} to me",
        9 => $"Should I pick {Pick(Technologies)} or {Pick(Technologies)}?",
        10 => $"What did we migrate to {Pick(Technologies)}?",
        _ => $"Plan a weekend in {Pick(Cities)} for me",
    };

    // Sentences of the kind an assistant writes, to build replies of realistic length.
    private static readonly string[] ReplySentences =
    [
        "Here is a step-by-step approach you can adapt to your situation.",
        "First, make sure the configuration is loaded from environment variables rather than hard-coded values.",
        "The main trade-off is between simplicity today and flexibility later, so start with the simplest option that works.",
        "If you expect the data to grow, add an index on the columns you filter by most often.",
        "You can verify the behaviour with a small test that fails before the change and passes after it.",
        "Keep in mind that retries must be idempotent, otherwise a timeout can apply the same change twice.",
        "A common mistake is to catch every exception and hide the real cause, which makes incidents much harder to debug.",
        "For the user interface, show progress early and keep the layout stable while data loads.",
        "When comparing the two options, the first has a larger ecosystem while the second is faster to run.",
        "I would measure before optimising, because the bottleneck is often not where we expect it.",
        "The documentation recommends pinning versions and upgrading deliberately, one dependency at a time.",
        "Let me know if you want a version of this in another language or with more detail on any step.",
    ];

    /// <summary>An assistant reply of about <paramref name="sentences"/> sentences.</summary>
    public string Reply(int sentences) => string.Join(' ', Enumerable.Range(0, sentences).Select(_ => Pick(ReplySentences)));

    /// <summary>A user message of a long conversation: a statement about themselves, a question, or a task.</summary>
    public string UserMessage(int turn)
    {
        var (fact, type) = Next();
        return (turn % 3) switch
        {
            0 => type == MemoryType.Procedural ? fact + "." : "By the way, " + FirstPerson(fact) + ".",
            1 => Query(),
            _ => $"Can you help me write a short plan for the {Pick(Purposes)} work this week?",
        };
    }

    // "Works at Globex as a designer" -> "I work at Globex as a designer" (the extractor turns it back).
    private static string FirstPerson(string fact)
    {
        var space = fact.IndexOf(' ', StringComparison.Ordinal);
        var verb = fact[..space].ToLowerInvariant();
        var rest = fact[space..];
        if (verb is "sister" or "manager" or "favorite")
        {
            return "My " + verb + rest;
        }
        var baseVerb = verb switch
        {
            "is" => "am",
            "has" => "have",
            "plays" or "reads" or "uses" or "works" or "keeps" or "runs" or "prefers" or "volunteers" => verb[..^1],
            _ => verb,
        };
        return $"I {baseVerb}{rest}";
    }
}
