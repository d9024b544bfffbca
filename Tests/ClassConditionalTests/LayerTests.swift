import Testing
import TagganCore
@testable import TagGAN
