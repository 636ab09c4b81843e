using Platform.TestKit;

/// <summary>
/// Compiled into every test project (tests/Directory.Build.props): when an assembly's tests are done, its scratch folder
/// goes. The process-exit handler alone left a 1.2 GB folder behind when the test host was ended from outside.
/// </summary>
[SetUpFixture]
public sealed class ScratchFolderFixture
{
    [OneTimeTearDown]
    public void DeleteScratchFolder() => TestPaths.DeleteScratch();
}
