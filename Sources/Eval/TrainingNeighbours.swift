import Foundation
import TagganCore

/// Neighbour lists, one per query image: (training row, cosine), best first.
public typealias NeighbourLists = [[(index: Int, similarity: Float)]]

/// The training images in the centred feature space (`FeatureCentring`), searched once
/// and shared: k-NN transfer, TagProp and ConSE all rank from the same lists (each takes
/// the first k it needs), so an evaluation searches each split once, for the largest k.
///
/// Cost: the index keeps the N x F centred unit training rows; a search is Q N F
/// multiply-adds through blocked row-stable products (`CosineIndex`, 256 x N similarities at a time)
/// and Q k kept neighbours; the leave-one-out search of the training set is N^2 F.
public struct TrainingNeighbours: Sendable {
    public let centring: FeatureCentring
    /// Centred unit training rows.
    public let index: CosineIndex

    /// Centres on `trainFeatures`' mean (raw features in).
    public init(trainFeatures: Tensor) {
        centring = FeatureCentring(train: trainFeatures)
        index = CosineIndex(centring.apply(trainFeatures))
    }

    public init(centring: FeatureCentring, index: CosineIndex) {
        self.centring = centring
        self.index = index
    }

    public var trainingImages: Int { index.base.rows }

    /// The k nearest training images of each row of `queries` (raw features, centred here).
    public func nearest(_ queries: Tensor, k: Int) -> NeighbourLists {
        index.nearest(centring.apply(queries), k: min(k, trainingImages))
    }

    /// Each training image's k nearest other training images (leave-one-out).
    public func leaveOneOut(k: Int) -> NeighbourLists {
        index.nearest(index.base, k: min(k, trainingImages - 1)) { $0 == $1 }
    }
}
